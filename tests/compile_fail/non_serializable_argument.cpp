// Compile-fail test: a type that parkit cannot serialize is refused at compile time, with a
// message saying what to add. With PARKIT_EXPECT_OK, the type gains a serialize member.
#include <parkit/process_pool.hpp>

#include <string>

struct unsendable_record {
    std::string name;
    double value = 0;
#ifdef PARKIT_EXPECT_OK
    template <class Archive>
    void serialize(Archive& ar) {
        ar(name, value);
    }
#endif
};

double value_of(unsendable_record r) {
    return r.value;
}

int main() {
    parkit::process_pool pool(1);
    return pool.submit(value_of, unsendable_record{"a", 2.0}).get() == 2.0 ? 0 : 1;
}
