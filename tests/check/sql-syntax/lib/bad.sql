-- an included file with a mistake on its third line
SELECT 1;
UPDATE orders SET total = total +;
