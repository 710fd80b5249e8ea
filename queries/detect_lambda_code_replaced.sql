-- name: detect_lambda_code_replaced
-- filters: candidate_events
-- Detection `lambda_code_replaced`: Lambda function code replaced. Candidate events, failed calls
-- included: lambda.amazonaws.com UpdateFunctionCode*.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'lambda.amazonaws.com'
  AND eventname LIKE 'UpdateFunctionCode%')
