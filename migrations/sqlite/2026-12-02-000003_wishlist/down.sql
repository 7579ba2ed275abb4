DROP TABLE wishlist_items;
