DROP TABLE category_products;
