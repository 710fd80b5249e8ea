-- name: detect_trail_bucket_changed
-- filters: candidate_events
-- Detection `trail_bucket_changed`: Trail log bucket changed. Candidate events, failed calls included: s3.amazonaws.com PutBucketLifecycle, PutBucketPolicy, DeleteBucketPolicy, DeleteBucket; cloudtrail.amazonaws.com CreateTrail, UpdateTrail.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(
  (eventsource = 's3.amazonaws.com' AND eventname IN ('PutBucketLifecycle', 'PutBucketPolicy', 'DeleteBucketPolicy', 'DeleteBucket'))
  OR (eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('CreateTrail', 'UpdateTrail'))
)
