-- name: detect_s3_public_access
-- filters: candidate_events
-- Detection `s3_public_access`: S3 opened to the public. Candidate events, failed calls included: s3.amazonaws.com PutBucketPublicAccessBlock, DeleteBucketPublicAccessBlock, PutBucketPolicy, PutBucketAcl; s3control.amazonaws.com PutPublicAccessBlock, DeletePublicAccessBlock.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(
  (eventsource = 's3.amazonaws.com' AND eventname IN ('PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'PutBucketPolicy', 'PutBucketAcl'))
  OR (eventsource = 's3control.amazonaws.com' AND eventname IN ('PutPublicAccessBlock', 'DeletePublicAccessBlock'))
)
