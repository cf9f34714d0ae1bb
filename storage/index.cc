#include "storage/internal/index.h"

namespace spillway::storage {

Index::Index(size_t partitions, size_t slots) {
  parts_.reserve(partitions);
  for (size_t i = 0; i < partitions; ++i) {
    parts_.emplace_back(slots);
    if (!parts_.back().valid()) valid_ = false;
    capacity_ += parts_.back().capacity();
    bytes_ += parts_.back().bytes();
  }
}

void Index::Erase(size_t pos) {
  Table(pos).Erase(Slot(pos));
  --size_;
}

size_t Index::Insert(uint64_t hash, Location at, uint8_t freq) {
  const size_t part = PartitionOf(hash);
  const size_t slot = parts_[part].Insert(hash, at, freq);
  if (slot == kNotFound) return kNotFound;
  ++size_;
  return Pos(part, slot, false);
}

bool Index::StartRebuild(size_t part, size_t capacity) {
  if (old_) return false;
  HashIndex fresh(capacity);
  if (!fresh.valid()) return false;
  capacity_ += fresh.capacity() - parts_[part].capacity();
  bytes_ += fresh.bytes() - parts_[part].bytes();
  old_.emplace(std::move(parts_[part]));
  parts_[part] = std::move(fresh);
  migrating_ = part;
  cursor_ = 0;
  return true;
}

void Index::FinishRebuild() {
  old_.reset();
  migrating_ = kNoPartition;
  cursor_ = 0;
}

}  // namespace spillway::storage
