;;
;
SELECT 1;;;
 ; 
