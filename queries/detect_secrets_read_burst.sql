-- name: detect_secrets_read_burst
-- filters: candidate_events
-- Detection `secrets_read_burst`: Many secrets read with decryption. Candidate events, failed calls
-- included: secretsmanager.amazonaws.com GetSecretValue, BatchGetSecretValue; ssm.amazonaws.com
-- GetParameter, GetParameters.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(
  (eventsource = 'secretsmanager.amazonaws.com'
     AND eventname IN ('GetSecretValue', 'BatchGetSecretValue'))
  OR (eventsource = 'ssm.amazonaws.com'
     AND eventname IN ('GetParameter', 'GetParameters'))
)
