-- name: detect_iam_admin_policy_attached
-- filters: candidate_events
-- Detection `iam_admin_policy_attached`: Administrator rights granted. Candidate events, failed calls included: iam.amazonaws.com AttachUserPolicy, AttachRolePolicy, AttachGroupPolicy, PutUserPolicy, PutRolePolicy, PutGroupPolicy.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'iam.amazonaws.com' AND eventname IN ('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy', 'PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy'))
