-- name: detect_lambda_policy_public
-- filters: candidate_events
-- Detection `lambda_policy_public`: Lambda function opened to any principal. Candidate events,
-- failed calls included: lambda.amazonaws.com AddPermission*.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'lambda.amazonaws.com'
  AND eventname LIKE 'AddPermission%')
