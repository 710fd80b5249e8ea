-- name: detect_config_recorder_stopped
-- filters: candidate_events
-- Detection `config_recorder_stopped`: AWS Config recording stopped. Candidate events, failed calls included: config.amazonaws.com StopConfigurationRecorder, DeleteConfigurationRecorder, DeleteDeliveryChannel.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'config.amazonaws.com' AND eventname IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder', 'DeleteDeliveryChannel'))
