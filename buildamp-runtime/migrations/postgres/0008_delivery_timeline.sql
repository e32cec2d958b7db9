-- A message's delivery timeline: the providers' events recorded for an execution, read by id.
CREATE INDEX inbound_events_execution ON inbound_events (execution_id, received_at)
    WHERE execution_id IS NOT NULL;
