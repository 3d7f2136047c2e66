-- The webhook journal takes one insert and one status update per webhook and, until retention
-- prunes it (WACRM_JOURNAL_RETENTION_DAYS), keeps growing: at autovacuum's default 20% its
-- dead index entries pile up between vacuums (the processor's claim and the waiting gauge walk
-- them). Vacuum it after 2% of its rows changed, and after 2% were inserted (visibility map).
ALTER TABLE webhook_journal SET (
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_insert_scale_factor = 0.02,
  autovacuum_analyze_scale_factor = 0.02
);
