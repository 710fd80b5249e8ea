-- name: detect_kms_key_deletion
-- filters: candidate_events
-- Detection `kms_key_deletion`: KMS key disabled or scheduled for deletion. Candidate events, failed calls included: kms.amazonaws.com ScheduleKeyDeletion, DisableKey.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'kms.amazonaws.com' AND eventname IN ('ScheduleKeyDeletion', 'DisableKey'))
