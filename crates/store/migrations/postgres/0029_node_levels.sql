-- Levels above the district (province, city) and below the building (unit, 单元). Province,
-- city and district codes are all six digits (GB/T 2260); the division-code index covers them.
ALTER TABLE node DROP CONSTRAINT node_kind_check;
ALTER TABLE node ADD CONSTRAINT node_kind_check CHECK (kind IN ('province', 'city', 'district',
    'street', 'community', 'compound', 'grid', 'building', 'unit'));
DROP INDEX node_division_code_key;
CREATE UNIQUE INDEX node_division_code_key ON node (code)
    WHERE closed_on IS NULL AND kind IN ('province', 'city', 'district', 'street', 'community');
