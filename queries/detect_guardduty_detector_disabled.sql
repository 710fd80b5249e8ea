-- name: detect_guardduty_detector_disabled
-- filters: candidate_events
-- Detection `guardduty_detector_disabled`: GuardDuty detector or protection disabled. Candidate events, failed calls included: guardduty.amazonaws.com UpdateDetector.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'guardduty.amazonaws.com' AND eventname IN ('UpdateDetector'))
