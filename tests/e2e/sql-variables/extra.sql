SELECT 'from an included file' AS source;
