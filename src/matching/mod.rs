pub mod blossom;
