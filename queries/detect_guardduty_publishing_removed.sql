-- name: detect_guardduty_publishing_removed
-- filters: candidate_events
-- Detection `guardduty_publishing_removed`: GuardDuty export destination removed. Candidate events, failed calls included: guardduty.amazonaws.com DeletePublishingDestination.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'guardduty.amazonaws.com' AND eventname IN ('DeletePublishingDestination'))
