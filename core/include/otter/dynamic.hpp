// otter::dynamic: an untyped msgpack value, for tools and peers in other languages.
//
// - A server that lists `dynamic` among its request types receives any body (from
//   `otterctl call kv '["get","a"]'`, or a Python client) and inspects it.
// - A dynamic *sent* travels untyped (an empty type name on the wire): the receiving server
//   takes the first of its listed types that the body converts to, as for a foreign client.
//   otter::call_untyped(to, dynamic::of(...)) is a call of that kind (call.hpp).
// - Asked for as a reply type, it accepts any reply; type_name() says what the server sent.
// Values are immutable and share their data (a zone) between copies.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <msgpack.hpp>

#include "otter/message.hpp"

namespace otter {

class dynamic {
 public:
  dynamic() : zone_(std::make_shared<msgpack::zone>(256)) {}
  // A deep copy of `o`.
  explicit dynamic(const msgpack::object& o) : zone_(std::make_shared<msgpack::zone>(256)) {
    value_ = msgpack::object(o, *zone_);
  }
  template <class T>
  static dynamic of(const T& v) {
    dynamic d;
    d.value_ = msgpack::object(v, *d.zone_);
    return d;
  }

  const msgpack::object& get() const noexcept { return value_; }
  // The wire type name this value arrived with ("" when untyped or built here).
  const std::string& type_name() const noexcept { return type_; }
  void set_type_name(std::string t) { type_ = std::move(t); }
  // The zone holding the value (for otter's envelopes).
  const std::shared_ptr<msgpack::zone>& zone() const noexcept { return zone_; }
  // The value as T; throws msgpack::type_error when it does not convert.
  template <class T>
  T as() const {
    return value_.as<T>();
  }

 private:
  std::shared_ptr<msgpack::zone> zone_;  // shared by copies: values are immutable
  msgpack::object value_;
  std::string type_;
};

template <>
struct message_traits<dynamic> {
  static constexpr std::string_view name = "dynamic";
};

}  // namespace otter

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
  namespace adaptor {
  template <>
  struct convert<otter::dynamic> {
    const msgpack::object& operator()(const msgpack::object& o, otter::dynamic& v) const {
      v = otter::dynamic(o);
      return o;
    }
  };
  template <>
  struct pack<otter::dynamic> {
    template <typename Stream>
    msgpack::packer<Stream>& operator()(msgpack::packer<Stream>& p, const otter::dynamic& v) const {
      p.pack(v.get());
      return p;
    }
  };
  template <>
  struct object_with_zone<otter::dynamic> {
    void operator()(msgpack::object::with_zone& o, const otter::dynamic& v) const {
      msgpack::object copy(v.get(), o.zone);
      static_cast<msgpack::object&>(o) = copy;
    }
  };
  }  // namespace adaptor
}
}  // namespace msgpack
