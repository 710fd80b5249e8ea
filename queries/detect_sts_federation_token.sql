-- name: detect_sts_federation_token
-- filters: candidate_events
-- Detection `sts_federation_token`: Federation token obtained. Candidate events, failed calls
-- included: sts.amazonaws.com GetFederationToken.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'sts.amazonaws.com'
  AND eventname IN ('GetFederationToken'))
