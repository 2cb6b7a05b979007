-- Version 3: the queue carries more than codes. A message's kind picks its
-- template; only `code` rows hold a sealed code (the others an empty one).
-- Messages queued before this version were all codes.
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'code';
