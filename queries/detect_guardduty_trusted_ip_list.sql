-- name: detect_guardduty_trusted_ip_list
-- filters: candidate_events
-- Detection `guardduty_trusted_ip_list`: GuardDuty trusted IP list set. Candidate events, failed calls included: guardduty.amazonaws.com CreateIPSet, UpdateIPSet.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'guardduty.amazonaws.com' AND eventname IN ('CreateIPSet', 'UpdateIPSet'))
