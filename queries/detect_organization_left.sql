-- name: detect_organization_left
-- filters: candidate_events
-- Detection `organization_left`: Account left its organization. Candidate events, failed calls included: organizations.amazonaws.com LeaveOrganization.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'organizations.amazonaws.com' AND eventname IN ('LeaveOrganization'))
