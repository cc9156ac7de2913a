#include "core/mmap.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/file_io.h"

using namespace cartlm;

namespace {

std::string temp_dir() {
  auto d = std::filesystem::temp_directory_path() /
           ("cartlm_mmap_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d.string();
}

}  // namespace

TEST(MappedFile, MapsTheFileBytes) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "a.bin");
  std::string content = "hello\0world", big(100000, 'x');
  content += big;
  ASSERT_TRUE(write_file_atomic(path, content).ok());
  auto m = MappedFile::open(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_TRUE(m->is_open());
  EXPECT_EQ(m->size(), content.size());
  EXPECT_EQ(m->bytes(), content);
  EXPECT_EQ(m->path(), path);
  auto p = MappedFile::open(path, MapOptions{.populate = true});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->bytes(), content);
  std::filesystem::remove_all(dir);
}

TEST(MappedFile, MoveKeepsTheMappingAndEmptiesTheSource) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "b.bin");
  ASSERT_TRUE(write_file_atomic(path, "abcdef").ok());
  auto m = MappedFile::open(path);
  ASSERT_TRUE(m.ok());
  const uint8_t* before = m->data();
  MappedFile moved = std::move(*m);
  EXPECT_EQ(moved.data(), before);  // views into the mapping stay valid across moves
  EXPECT_EQ(moved.bytes(), "abcdef");
  EXPECT_EQ(m->data(), nullptr);
  EXPECT_EQ(m->size(), 0u);
  EXPECT_FALSE(m->is_open());
  MappedFile other;
  other = std::move(moved);
  EXPECT_EQ(other.bytes(), "abcdef");
  other.close();
  EXPECT_FALSE(other.is_open());
  EXPECT_EQ(other.size(), 0u);
  std::filesystem::remove_all(dir);
}

TEST(MappedFile, EmptyFileMapsToNothing) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "empty.bin");
  ASSERT_TRUE(write_file_atomic(path, "").ok());
  auto m = MappedFile::open(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_TRUE(m->is_open());
  EXPECT_EQ(m->size(), 0u);
  EXPECT_EQ(m->data(), nullptr);
  std::filesystem::remove_all(dir);
}

TEST(MappedFile, MissingFileAndDirectoryGiveClearErrors) {
  std::string dir = temp_dir();
  auto missing = MappedFile::open(join_path(dir, "nope.bin"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope.bin"), std::string::npos) << missing.message();
  EXPECT_NE(missing.message().find("No such file"), std::string::npos) << missing.message();
  auto d = MappedFile::open(dir);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.message().find("is a directory"), std::string::npos) << d.message();
  std::filesystem::remove_all(dir);
}
