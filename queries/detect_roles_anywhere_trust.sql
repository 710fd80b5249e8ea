-- name: detect_roles_anywhere_trust
-- filters: candidate_events
-- Detection `roles_anywhere_trust`: IAM Roles Anywhere trust anchor or profile set. Candidate
-- events, failed calls included: rolesanywhere.amazonaws.com CreateTrustAnchor, UpdateTrustAnchor,
-- CreateProfile.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'rolesanywhere.amazonaws.com'
  AND eventname IN ('CreateTrustAnchor', 'UpdateTrustAnchor', 'CreateProfile'))
