-- name: detect_dns_query_logging_removed
-- filters: candidate_events
-- Detection `dns_query_logging_removed`: Route 53 Resolver query logging removed. Candidate events,
-- failed calls included: route53resolver.amazonaws.com DeleteResolverQueryLogConfig,
-- DisassociateResolverQueryLogConfig.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'route53resolver.amazonaws.com'
  AND eventname IN ('DeleteResolverQueryLogConfig', 'DisassociateResolverQueryLogConfig'))
