-- name: detect_console_login_failed
-- filters: candidate_events
-- Detection `console_login_failed`: Failed console sign-in. Candidate events, failed calls
-- included: signin.amazonaws.com ConsoleLogin, CheckMfa, ExternalIdPDirectoryLogin.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'signin.amazonaws.com'
  AND eventname IN ('ConsoleLogin', 'CheckMfa', 'ExternalIdPDirectoryLogin'))
