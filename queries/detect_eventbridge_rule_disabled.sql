-- name: detect_eventbridge_rule_disabled
-- filters: candidate_events
-- Detection `eventbridge_rule_disabled`: EventBridge rule deleted or disabled. Candidate events, failed calls included: events.amazonaws.com DeleteRule, DisableRule, RemoveTargets.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'events.amazonaws.com' AND eventname IN ('DeleteRule', 'DisableRule', 'RemoveTargets'))
