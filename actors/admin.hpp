// Operator commands that work on a data folder directly (the server must not
// be running on it: RocksDB allows one process per folder). They use the same
// pure account decider as the actors, without CAF.
#pragma once

#include <cstdint>
#include <string>

#include "actors/account.hpp"

namespace ap::actors {

// What each command prints on success, the same whether it ran on the
// folder or through a running server.
std::string account_created_text(const std::string& account_id, const std::string& api_key);
std::string key_created_text(const std::string& api_key);
std::string key_list_text(const domain::AccountState& account);
std::string key_revoked_text(const std::string& key_id);
std::string backup_text(const std::string& dir, std::uint64_t head_position);

// Each prints its result on stdout and returns the process exit code.
int admin_create_account(const std::string& data_dir, const std::string& email);
int admin_create_key(const std::string& data_dir, const std::string& account_id);
int admin_list_keys(const std::string& data_dir, const std::string& account_id);
int admin_revoke_key(const std::string& data_dir, const std::string& account_id,
                     const std::string& key_id);
// Copies the whole data folder, consistently, into the new folder `to`.
int admin_backup(const std::string& data_dir, const std::string& to);

}  // namespace ap::actors
