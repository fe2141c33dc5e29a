-- Exchanges keep their documents as `json`, not `jsonb`: an exchange's params are an object in wire order (the
-- order the caller sent them, an empty name included), and `jsonb` reorders an object's keys (by length, then
-- bytes). Nothing queries inside an exchange's document, so nothing is lost by keeping it as text.
ALTER TABLE exchanges ALTER COLUMN doc TYPE json USING doc::json;
