-- name: detect_console_login_without_mfa
-- filters: candidate_events
-- Detection `console_login_without_mfa`: Console sign-in without MFA. Candidate events, failed calls included: signin.amazonaws.com ConsoleLogin.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'signin.amazonaws.com' AND eventname IN ('ConsoleLogin'))
