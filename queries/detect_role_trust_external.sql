-- name: detect_role_trust_external
-- filters: candidate_events
-- Detection `role_trust_external`: Role trusts another account. Candidate events, failed calls included: iam.amazonaws.com UpdateAssumeRolePolicy, CreateRole.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'iam.amazonaws.com' AND eventname IN ('UpdateAssumeRolePolicy', 'CreateRole'))
