-- name: detect_ssm_session_started
-- filters: candidate_events
-- Detection `ssm_session_started`: SSM session started. Candidate events, failed calls included: ssm.amazonaws.com StartSession.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ssm.amazonaws.com' AND eventname IN ('StartSession'))
