-- name: detect_bedrock_unexpected_use
-- filters: candidate_events
-- Detection `bedrock_unexpected_use`: Bedrock used by an unexpected identity. Candidate events,
-- failed calls included: bedrock.amazonaws.com PutFoundationModelEntitlement,
-- PutUseCaseForModelAccess, CreateFoundationModelAgreement, InvokeModel,
-- InvokeModelWithResponseStream, Converse, ConverseStream.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'bedrock.amazonaws.com'
  AND eventname IN ('PutFoundationModelEntitlement', 'PutUseCaseForModelAccess', 'CreateFoundationModelAgreement', 'InvokeModel', 'InvokeModelWithResponseStream', 'Converse', 'ConverseStream'))
