-- A removed record keeps no job env (SPEC §2, v2): records removed before
-- rtmanager cleared env on removal still hold the secrets they started
-- with. Clear them; '{}' is what the store writes for no env.
UPDATE runtime_records SET env = '{}' WHERE status = 'removed' AND env <> '{}';
