// Operator commands that work on a data folder directly (the server must not
// be running on it: RocksDB allows one process per folder). They use the same
// pure account decider as the actors, without CAF.
#pragma once

#include <string>

namespace ap::actors {

// Each prints its result on stdout and returns the process exit code.
int admin_create_account(const std::string& data_dir, const std::string& email);
int admin_create_key(const std::string& data_dir, const std::string& account_id);
int admin_list_keys(const std::string& data_dir, const std::string& account_id);
int admin_revoke_key(const std::string& data_dir, const std::string& account_id,
                     const std::string& key_id);

}  // namespace ap::actors
