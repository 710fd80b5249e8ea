-- name: detect_lambda_layer_added
-- filters: candidate_events
-- Detection `lambda_layer_added`: Lambda layer set on a function. Candidate events, failed calls
-- included: lambda.amazonaws.com UpdateFunctionConfiguration*.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'lambda.amazonaws.com'
  AND eventname LIKE 'UpdateFunctionConfiguration%')
