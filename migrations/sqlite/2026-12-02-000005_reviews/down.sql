DROP INDEX products_rating_idx;
ALTER TABLE products DROP COLUMN rating_mean;
ALTER TABLE products DROP COLUMN rating_sum;
ALTER TABLE products DROP COLUMN review_count;
DROP TABLE reviews;
