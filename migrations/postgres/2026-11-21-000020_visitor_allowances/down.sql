DROP TABLE visitor_allowances;
