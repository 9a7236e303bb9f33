-- Sentence embeddings of the redacted segments (all-MiniLM-L6-v2, 384
-- little-endian f32), for `calls search --like`. NULL when the call was
-- analysed without the model.
ALTER TABLE segments ADD COLUMN embedding BLOB;
