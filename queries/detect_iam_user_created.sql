-- name: detect_iam_user_created
-- filters: candidate_events
-- Detection `iam_user_created`: IAM user or console password created. Candidate events, failed calls included: iam.amazonaws.com CreateUser, CreateLoginProfile.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'iam.amazonaws.com' AND eventname IN ('CreateUser', 'CreateLoginProfile'))
