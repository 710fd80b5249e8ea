-- name: detect_ssm_command_sent
-- filters: candidate_events
-- Detection `ssm_command_sent`: SSM command sent to instances. Candidate events, failed calls included: ssm.amazonaws.com SendCommand.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ssm.amazonaws.com' AND eventname IN ('SendCommand'))
