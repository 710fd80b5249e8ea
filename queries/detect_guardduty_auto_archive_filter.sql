-- name: detect_guardduty_auto_archive_filter
-- filters: candidate_events
-- Detection `guardduty_auto_archive_filter`: GuardDuty auto-archive filter. Candidate events, failed calls included: guardduty.amazonaws.com CreateFilter, UpdateFilter.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'guardduty.amazonaws.com' AND eventname IN ('CreateFilter', 'UpdateFilter'))
