-- name: detect_ssh_exposure_opened
-- filters: candidate_events
-- Detection `ssh_exposure_opened`: SSH (a watched port) opened to the internet. Candidate events,
-- failed calls included: ec2.amazonaws.com AuthorizeSecurityGroupIngress, ModifySecurityGroupRules;
-- rds.amazonaws.com AuthorizeDBSecurityGroupIngress.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(
  (eventsource = 'ec2.amazonaws.com'
     AND eventname IN ('AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules'))
  OR (eventsource = 'rds.amazonaws.com' AND eventname IN ('AuthorizeDBSecurityGroupIngress'))
)
