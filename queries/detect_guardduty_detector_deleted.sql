-- name: detect_guardduty_detector_deleted
-- filters: candidate_events
-- Detection `guardduty_detector_deleted`: GuardDuty detector deleted. Candidate events, failed calls included: guardduty.amazonaws.com DeleteDetector.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'guardduty.amazonaws.com' AND eventname IN ('DeleteDetector'))
