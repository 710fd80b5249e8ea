-- name: detect_ec2_serial_console_enabled
-- filters: candidate_events
-- Detection `ec2_serial_console_enabled`: EC2 serial console access enabled. Candidate events,
-- failed calls included: ec2.amazonaws.com EnableSerialConsoleAccess.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'ec2.amazonaws.com'
  AND eventname IN ('EnableSerialConsoleAccess'))
