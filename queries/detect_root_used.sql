-- name: detect_root_used
-- filters: candidate_events
-- Detection `root_used`: Root user activity. Candidate events, failed calls included: every call
-- made as the root user; whether root itself acted or a service for it (invokedBy) is decided in Python.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
useridentity.type = 'Root'
