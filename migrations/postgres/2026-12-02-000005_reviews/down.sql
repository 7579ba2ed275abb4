DROP INDEX products_rating_idx;
ALTER TABLE products DROP COLUMN rating_mean, DROP COLUMN rating_sum, DROP COLUMN review_count;
DROP TABLE reviews;
