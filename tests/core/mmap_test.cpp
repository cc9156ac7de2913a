#include "core/mmap.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "core/file_io.h"
#include "core/proc_maps.h"

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

namespace {

MapOptions read_mode() {
  MapOptions o;
  o.mmap = false;
  return o;
}

}  // namespace

TEST(MappedFile, ReadModeGivesTheSameBytesInPrivateAlignedMemory) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "r.bin");
  // Larger than the 2 MiB alignment unit and not a whole number of pages, with every byte value.
  std::string content((size_t(5) << 20) + 123, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = (char)(i * 2654435761u >> 13);
  ASSERT_TRUE(write_file_atomic(path, content).ok());
  auto mapped = MappedFile::open(path);
  auto read = MappedFile::open(path, read_mode());
  ASSERT_TRUE(mapped.ok()) << mapped.message();
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_TRUE(read->is_open());
  EXPECT_EQ(read->path(), path);
  ASSERT_EQ(read->size(), content.size());
  EXPECT_TRUE(read->bytes() == mapped->bytes());
  EXPECT_TRUE(read->bytes() == content);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(read->data()) % (size_t(2) << 20), 0u);
  // The map mode is backed by the file, the read mode by anonymous memory (its own copy).
  EXPECT_NE(mapping_name(mapped->data()).find("r.bin"), std::string::npos)
      << mapping_name(mapped->data());
  EXPECT_EQ(mapping_name(read->data()), "");
  EXPECT_EQ(mapping_name(read->data() + read->size() - 1), "");
  // The copy is independent of the file: rewriting the file does not change it.
  ASSERT_TRUE(write_file_atomic(path, std::string(content.size(), 'z')).ok());
  EXPECT_TRUE(read->bytes() == content);
  std::filesystem::remove_all(dir);
}

TEST(MappedFile, ReadModeIsReadOnly) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "ro.bin");
  ASSERT_TRUE(write_file_atomic(path, "abc").ok());
  auto m = MappedFile::open(path, read_mode());
  ASSERT_TRUE(m.ok()) << m.message();
  volatile uint8_t* p = const_cast<uint8_t*>(m->data());
  EXPECT_DEATH(p[0] = 1, "");
  EXPECT_EQ(m->bytes(), "abc");
  std::filesystem::remove_all(dir);
}

TEST(MappedFile, ReadModeMoveAndClose) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "mv.bin");
  ASSERT_TRUE(write_file_atomic(path, "abcdef").ok());
  auto m = MappedFile::open(path, read_mode());
  ASSERT_TRUE(m.ok());
  const uint8_t* before = m->data();
  MappedFile moved = std::move(*m);
  EXPECT_EQ(moved.data(), before);
  EXPECT_EQ(moved.bytes(), "abcdef");
  EXPECT_EQ(m->data(), nullptr);
  EXPECT_FALSE(m->is_open());
  MappedFile other = std::move(moved);
  auto again = MappedFile::open(path, read_mode());
  ASSERT_TRUE(again.ok());
  other = std::move(*again);  // releases the first copy
  EXPECT_EQ(other.bytes(), "abcdef");
  EXPECT_EQ(mapping_name(before), "<none>");
  other.close();
  EXPECT_FALSE(other.is_open());
  EXPECT_EQ(other.data(), nullptr);
  std::filesystem::remove_all(dir);
}

TEST(MappedFile, ReadModeEmptyAndMissingFiles) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "empty.bin");
  ASSERT_TRUE(write_file_atomic(path, "").ok());
  auto m = MappedFile::open(path, read_mode());
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_TRUE(m->is_open());
  EXPECT_EQ(m->size(), 0u);
  EXPECT_EQ(m->data(), nullptr);
  auto missing = MappedFile::open(join_path(dir, "nope.bin"), read_mode());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope.bin"), std::string::npos) << missing.message();
  EXPECT_NE(missing.message().find("No such file"), std::string::npos) << missing.message();
  auto d = MappedFile::open(dir, read_mode());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.message().find("is a directory"), std::string::npos) << d.message();
  std::filesystem::remove_all(dir);
}
