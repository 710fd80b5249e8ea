-- name: detect_guardduty_member_disassociated
-- filters: candidate_events
-- Detection `guardduty_member_disassociated`: GuardDuty member left its administrator. Candidate events, failed calls included: guardduty.amazonaws.com DisassociateFromMasterAccount, DisassociateFromAdministratorAccount.
-- Whether a candidate is a hit is decided in Python (audit_toolkit.analysis.detections.match),
-- the same decision the real-time alert makes.
(eventsource = 'guardduty.amazonaws.com' AND eventname IN ('DisassociateFromMasterAccount', 'DisassociateFromAdministratorAccount'))
