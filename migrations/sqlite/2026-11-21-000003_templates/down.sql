DROP TABLE template_products;
DROP TABLE template_versions;
DROP TABLE templates;
