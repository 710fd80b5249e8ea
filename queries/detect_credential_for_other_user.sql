-- name: detect_credential_for_other_user
-- filters: candidate_events
-- Detection `credential_for_other_user`: Credential set for another user. Candidate events,
-- failed calls included: iam.amazonaws.com CreateAccessKey, CreateLoginProfile, UpdateLoginProfile,
-- UploadSSHPublicKey, CreateServiceSpecificCredential, ResetServiceSpecificCredential,
-- EnableMFADevice, UploadSigningCertificate.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'iam.amazonaws.com' AND eventname IN (
  'CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile', 'UploadSSHPublicKey',
  'CreateServiceSpecificCredential', 'ResetServiceSpecificCredential', 'EnableMFADevice',
  'UploadSigningCertificate'))
